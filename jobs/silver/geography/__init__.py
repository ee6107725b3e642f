"""Geography base library (地理库): admin divisions, standardized address points, grid cells."""
