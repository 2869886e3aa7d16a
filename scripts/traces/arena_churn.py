# Trace source: three arenas of 480-byte bytes objects (class 29, 32 per pool), all but every 700th
# dropped, then the rest: arenas fill, empty and go back to the OS, one survivor pinning its arena.
objs = [bytes([i % 251]) * 447 for i in range(6000)]
keep = objs[::700]
del objs
assert all(len(b) == 447 for b in keep)
del keep
