"""esp-coord: coordination service for French primary care teams over MSSanté."""
