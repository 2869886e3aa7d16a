#!/usr/bin/env python3.11
"""Workload mixed-app: a small "application" doing typical mixed work.

Each of three phases:
  1. generates a nested document (customers with addresses, tags and orders
     with line items) and serialises it with json.dumps (a few MB of text),
  2. parses it back with json.loads and walks the result recursively,
  3. builds indexes with collections.defaultdict and Counter and converts the
     orders into dataclass instances,
  4. generates log-style text and runs several re searches / substitutions,
  5. formats a plain-text report.
Everything from the phase is dropped before the next one.

Verification: the parsed document must equal the generated one; totals,
counts and regex match counts are computed while generating and compared
with the values recomputed from the parsed document, the dataclasses and
the regex results.

Standard library only; deterministic for a fixed seed.
Set WORKLOAD_STATS=1 to get sys._debugmallocstats() after each phase (stderr).
Set WORKLOAD_SCALE=x (0 < x <= 10, default 1) to scale the number of customers
(and with it the JSON size and the log lines) per phase by x.
"""

import collections
import dataclasses
import gc
import json
import os
import random
import re
import sys
import zlib

from workload_scale import read_scale, scale_note

SEED = 5150
PHASES = (2_000, 3_200, 2_500)  # customers per phase
STATUSES = ("new", "paid", "shipped", "delivered", "returned", "cancelled")
TAGS = ("vip", "b2b", "eu", "us", "apac", "newsletter", "beta", "churn-risk",
        "wholesale", "student", "früh", "夜")
CITIES = ("Zürich", "Lyon", "Austin", "Osaka", "Lagos", "Lima", "Oslo", "Pune")
ACTIONS = ("login", "view", "add", "remove", "buy", "logout", "search")


@dataclasses.dataclass(frozen=True)
class LineItem:
    sku: str
    qty: int
    cents: int

    @property
    def total(self):
        return self.qty * self.cents


@dataclasses.dataclass
class Order:
    order_id: str
    customer: int
    status: str
    items: list = dataclasses.field(default_factory=list)

    def total(self):
        return sum(item.total for item in self.items)


@dataclasses.dataclass
class Expected:
    customers: int = 0
    orders: int = 0
    items: int = 0
    cents: int = 0
    qty: int = 0
    tags: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    buys: int = 0
    emails: int = 0
    log_cents: int = 0



def name(rng):
    return "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiouy")
                   for _ in range(rng.randrange(2, 5))).capitalize()


def generate(rng, n_customers, exp):
    customers = []
    for c in range(n_customers):
        first, last = name(rng), name(rng)
        tags = rng.sample(TAGS, rng.randrange(0, 4))
        exp.tags.update(tags)
        orders = []
        for o in range(rng.randrange(1, 8)):
            items = []
            for _ in range(rng.randrange(1, 6)):
                qty = rng.randrange(1, 20)
                cents = rng.randrange(99, 250_000)
                sku = f"{rng.choice('ABCDEFGH')}{rng.choice('XYZ')}-{rng.randrange(10_000):04d}"
                items.append({"sku": sku, "qty": qty, "price": cents / 100, "cents": cents})
                exp.items += 1
                exp.qty += qty
                exp.cents += qty * cents
            status = rng.choice(STATUSES)
            exp.statuses[status] += 1
            orders.append({"id": f"O{c:05d}-{o:02d}", "status": status,
                           "ts": 1_600_000_000 + rng.randrange(10**8),
                           "items": items, "gift": rng.random() < 0.1,
                           "note": None if rng.random() < 0.7 else "leave at door"})
            exp.orders += 1
        customers.append({
            "id": c, "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@example.{rng.choice(('com', 'org', 'net'))}",
            "address": {"city": rng.choice(CITIES), "zip": f"{rng.randrange(100000):05d}",
                        "geo": [round(rng.uniform(-90, 90), 5), round(rng.uniform(-180, 180), 5)]},
            "tags": tags, "orders": orders, "score": rng.random(),
        })
        exp.customers += 1
    return {"version": 3, "generator": "alloc-check mixed-app", "customers": customers}


def walk(node, counts):
    """Recursive walk counting node types; returns the sum of all int leaves."""
    t = type(node)
    counts[t.__name__] += 1
    if t is dict:
        return sum(walk(v, counts) for v in node.values())
    if t is list:
        return sum(walk(v, counts) for v in node)
    if t is int:
        return node
    return 0


def make_log(rng, doc, exp, lines):
    out = []
    customers = doc["customers"]
    for i in range(lines):
        cust = rng.choice(customers)
        action = rng.choice(ACTIONS)
        amount = rng.randrange(0, 100_000) if action == "buy" else 0
        if action == "buy":
            exp.buys += 1
            exp.log_cents += amount
        stamp = f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i * 7 % 60:02d}"
        line = (f"{stamp} user={cust['id']} action={action} "
                f"amount={amount // 100}.{amount % 100:02d}")
        if i % 5 == 0:
            line += f" contact=<{cust['email']}>"
            exp.emails += 1
        out.append(line)
    return "\n".join(out)


RE_BUY = re.compile(r"^\S+ user=(\d+) action=buy amount=(\d+)\.(\d\d)", re.M)
RE_EMAIL = re.compile(r"<([\w.]+)@(example\.(?:com|org|net))>")
RE_KV = re.compile(r"(\w+)=([^\s<>]+)")
RE_DIGITS = re.compile(r"\d")


def run_phase(phase, rng, n_customers):
    exp = Expected()
    doc = generate(rng, n_customers, exp)
    text = json.dumps(doc, ensure_ascii=(phase % 2 == 0), indent=(None if phase != 1 else 1))
    parsed = json.loads(text)
    assert parsed == doc, "json round trip changed the document"
    json_bytes = len(text.encode("utf-8"))

    counts = collections.Counter()
    int_sum = walk(parsed, counts)
    assert int_sum == walk(doc, collections.Counter())
    assert counts["dict"] == 1 + exp.customers * 2 + exp.orders + exp.items

    # Indexes.
    by_sku = collections.defaultdict(list)
    by_city = collections.defaultdict(set)
    tag_count = collections.Counter()
    status_count = collections.Counter()
    orders = []
    for cust in parsed["customers"]:
        tag_count.update(cust["tags"])
        by_city[cust["address"]["city"]].add(cust["id"])
        for o in cust["orders"]:
            status_count[o["status"]] += 1
            order = Order(o["id"], cust["id"], o["status"])
            for it in o["items"]:
                by_sku[it["sku"]].append(o["id"])
                assert round(it["price"] * 100) == it["cents"]
                order.items.append(LineItem(it["sku"], it["qty"], it["cents"]))
            orders.append(order)
    assert tag_count == exp.tags and status_count == exp.statuses
    assert len(orders) == exp.orders
    assert sum(len(v) for v in by_sku.values()) == exp.items
    assert sum(map(len, by_city.values())) == exp.customers
    grand = sum(o.total() for o in orders)
    assert grand == exp.cents, (grand, exp.cents)
    assert sum(it.qty for o in orders for it in o.items) == exp.qty
    as_dicts = [dataclasses.asdict(o) for o in orders[::10]]
    assert all(len(d["items"]) == len(o.items) for d, o in zip(as_dicts, orders[::10]))

    # Regex work over generated log text.
    log = make_log(rng, parsed, exp, n_customers * 8)
    buys = RE_BUY.findall(log)
    assert len(buys) == exp.buys
    assert sum(int(a) * 100 + int(b) for _, a, b in buys) == exp.log_cents
    emails = [m.group(1) for m in RE_EMAIL.finditer(log)]
    assert len(emails) == exp.emails
    kv = collections.Counter(k for k, _ in RE_KV.findall(log))
    assert kv["user"] == n_customers * 8 and kv["action"] == n_customers * 8
    masked = RE_DIGITS.sub("#", log)
    assert len(masked) == len(log) and not RE_DIGITS.search(masked)
    words = collections.Counter(re.split(r"[\s=<>@.:-]+", log))

    # Report.
    lines = [f"phase {phase}: {exp.customers} customers, {exp.orders} orders, "
             f"{exp.items} items, {json_bytes:,} bytes of JSON"]
    lines.append(f"  revenue {grand // 100:,}.{grand % 100:02d}")
    for status, n in status_count.most_common():
        lines.append(f"  {status:<10} {n:>6}")
    for tag, n in tag_count.most_common(5):
        lines.append(f"  tag {tag:<12} {n:>6}")
    top_skus = sorted(by_sku.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
    for sku, ids in top_skus:
        lines.append(f"  sku {sku} in {len(ids)} orders, first {ids[0]}")
    for city in sorted(by_city):
        lines.append(f"  {city}: {len(by_city[city])} customers")
    lines.append(f"  log: {len(buys)} buys, {len(emails)} e-mails, {len(words)} distinct words")
    report = "\n".join(lines)
    assert report.count("\n") == len(lines) - 1

    result = (json_bytes, exp.orders + exp.customers, len(buys) + len(emails),
              zlib.crc32(report.encode("utf-8")))
    del doc, text, parsed, orders, by_sku, by_city, as_dicts, log, masked, words, buys, emails
    gc.collect()
    return result


def main():
    scale = read_scale("mixed-app")
    sizes = [max(1, round(n * scale)) for n in PHASES]
    print(f"workload mixed-app: seed {SEED}")
    stats = os.environ.get("WORKLOAD_STATS") == "1"
    rng = random.Random(SEED)
    total_json = total_records = total_matches = 0
    checksum = 0
    for phase, n in enumerate(sizes):
        json_bytes, records, matches, crc = run_phase(phase, rng, n)
        total_json += json_bytes
        total_records += records
        total_matches += matches
        checksum = zlib.crc32(crc.to_bytes(4, "little"), checksum)
        if stats:
            print(f"mixed-app: after phase {phase}: {sys.getallocatedblocks()} blocks allocated",
                  file=sys.stderr)
            sys._debugmallocstats()
    print(f"workload mixed-app: {len(PHASES)} phases, {total_json / 1e6:.1f} MB JSON parsed, "
          f"{total_records:,} records, {total_matches:,} regex matches, checksum {checksum:#010x}"
          f"{scale_note(scale)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
