"""Pure option analytics over stored chain rows, shared by the MCP server and the console.

smile: one expiry's smile (ATM at spot, IV at a call-equivalent delta); term: constant
maturities interpolated in total variance; snapshot: the metrics of one stored snapshot
(the time-series row) and the standardized delta x tenor surface. Nothing here reads files.
"""
