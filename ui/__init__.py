"""Streamlit helpers shared by the pages. The engine (bnviz/) never imports this."""
