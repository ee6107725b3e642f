"""Legal-persons base library (法人库): one golden record per enterprise or institution, with history."""
