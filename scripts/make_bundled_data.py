"""Writes experiments/data/arithmetic.jsonl: 50 grade-school word problems.

The problems come from ten templates written by the debatelab developers,
filled with numbers from a seeded generator; each answer is computed here.
Run from the repository root: python scripts/make_bundled_data.py
"""

import json
import random
from pathlib import Path

rng = random.Random(2026)
NAMES = ["Ava", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jonas"]


def t0(n):
    a, b, c = rng.randint(12, 40), rng.randint(3, 9), rng.randint(5, 20)
    return (f"{n} has {a} marbles and buys {b} bags with {c} marbles in each bag. "
            f"How many marbles does {n} have now?", a + b * c)


def t1(n):
    price, qty, paid = rng.randint(3, 12), rng.randint(2, 6), 100
    return (f"{n} buys {qty} notebooks that cost ${price} each and pays with a ${paid} bill. "
            f"How many dollars of change does {n} get?", paid - price * qty)


def t2(n):
    per_day, days, given = rng.randint(4, 9), rng.randint(5, 12), rng.randint(5, 15)
    return (f"{n} bakes {per_day} cookies every day for {days} days, then gives away {given} "
            f"cookies. How many cookies are left?", per_day * days - given)


def t3(n):
    rows, per_row, broken = rng.randint(4, 9), rng.randint(6, 12), rng.randint(2, 8)
    return (f"A garden has {rows} rows of tulips with {per_row} tulips in each row. {n} picks "
            f"{broken} tulips. How many tulips are still in the garden?", rows * per_row - broken)


def t4(n):
    speed, hours, extra = rng.randint(40, 70), rng.randint(2, 5), rng.randint(10, 30)
    return (f"{n} drives at {speed} miles per hour for {hours} hours and then drives {extra} "
            f"more miles. How many miles does {n} drive in total?", speed * hours + extra)


def t5(n):
    total, groups = rng.randint(3, 9) * 12, 12
    left = rng.randint(1, 4)
    return (f"{n} has {total} stickers and shares them equally among {groups} friends. Each "
            f"friend then loses {left} stickers. How many stickers does each friend have "
            f"left?", total // groups - left)


def t6(n):
    weekly, weeks, spent = rng.randint(5, 15), rng.randint(4, 10), rng.randint(10, 30)
    return (f"{n} saves ${weekly} a week for {weeks} weeks and spends ${spent} on a game. How "
            f"many dollars does {n} have left?", weekly * weeks - spent)


def t7(n):
    a, b = rng.randint(20, 60), rng.randint(20, 60)
    return (f"A library has {a} fiction books and {b} non-fiction books. It gets twice as many "
            f"new books as it has fiction books. How many books does it have now?",
            a + b + 2 * a)


def t8(n):
    legs_chickens, cows = rng.randint(3, 12), rng.randint(2, 9)
    return (f"On {n}'s farm there are {legs_chickens} chickens and {cows} cows. How many legs "
            f"do the animals have altogether?", 2 * legs_chickens + 4 * cows)


def t9(n):
    pages, per_day, days = rng.randint(120, 300), rng.randint(10, 25), rng.randint(3, 6)
    return (f"A book has {pages} pages. {n} reads {per_day} pages a day for {days} days. How "
            f"many pages are left to read?", pages - per_day * days)


TEMPLATES = [t0, t1, t2, t3, t4, t5, t6, t7, t8, t9]


def main():
    out = Path("experiments/data/arithmetic.jsonl")
    with out.open("w", encoding="utf-8") as f:
        for i in range(50):
            text, answer = TEMPLATES[i % 10](NAMES[(i * 7) % 10])
            f.write(json.dumps({"id": f"arith-{i:02d}", "question": text, "answer": answer}) + "\n")


if __name__ == "__main__":
    main()
