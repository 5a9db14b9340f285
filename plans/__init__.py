"""The care-plan domain (PPS/PPCS): pure Python, no I/O, no asyncio."""
