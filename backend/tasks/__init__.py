"""Tasks: what a coach or supervisor must do, by when."""
