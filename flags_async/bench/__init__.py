"""The bench: runs the modes side by side (`_runner`) and draws the chart (`_chart`)."""
