"""Population base library (人口库): one golden record per natural person, with history."""
