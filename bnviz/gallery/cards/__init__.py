"""One module per gallery card; `bnviz.gallery.EXPERIMENTS` lists them in gallery order."""
