# Trace source: a list of 2,000 (int, float, str) tuples sorted two ways and dropped (many objects of
# three size classes freed in an order unrelated to their allocation).
rows = [((i * 7919) % 2000, i / 3.0, "r%04d" % i) for i in range(2000)]
by_key = sorted(rows)
by_name = sorted(rows, key=lambda r: r[2], reverse=True)
assert by_key[0][0] == 0 and by_name[-1][2] == "r0000"
del rows, by_key, by_name
