# Trace source: strings grown with += (PyObject_Realloc in place and moving, across size classes and past
# the 512-byte threshold into the raw allocator), bytes joined and sliced.
parts = []
for k in range(40):
    s = ""
    for i in range(60):
        s += chr(97 + (i + k) % 26) * (1 + i % 7)
    parts.append(s)
blob = "|".join(parts).encode()
pieces = [blob[i:i + 33] for i in range(0, len(blob), 33)]
assert b"".join(pieces) == blob
