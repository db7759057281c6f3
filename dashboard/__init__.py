"""v7 Streamlit dashboard: reads only the state files."""
