"""bnviz dashboard entry: the app's frame and navigation (ui/shell.py; the pages are in ui/routes.py).

    streamlit run app.py

`/?run=<id>` on the root URL opens that run's live view; `&present=1` is projector mode.
"""

from ui import shell

if __name__ != "__mp_main__":  # a helper process (bnviz/train/describe.py, spawn) re-imports this file: no app there
    shell.main()
