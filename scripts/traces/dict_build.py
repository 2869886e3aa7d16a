# Trace source: a dict of 3,000 str keys with tuple values is built, summed and cleared (key tables
# grow by malloc + free; small str, int and tuple objects in classes 2-4).
d = {}
for i in range(3000):
    d["key%d" % i] = (i, str(i))
total = sum(v[0] for v in d.values())
d.clear()
assert total == 3000 * 2999 // 2
