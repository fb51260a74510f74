"""Deterministic synthetic records: skewed countries and ages, repeated emails, interest spellings
that vary in case within a person but not across people's majority."""

import random

COUNTRIES = [("USA", 40), ("India", 22), ("Canada", 10), ("UK", 9), ("Germany", 8), ("Brazil", 6), ("Japan", 5)]
INTERESTS = ["Tech", "Gaming", "AI", "Finance", "Cricket", "Movies", "Sports", "Crypto", "Travel", "Music",
             "Football", "Drama", "Stock Market", "Cooking"]


def weighted(rng, pairs):
    t = rng.uniform(0, sum(w for _, w in pairs))
    for v, w in pairs:
        t -= w
        if t < 0:
            return v
    return pairs[-1][0]


def records(n, seed=42, emails=None):
    rng = random.Random(seed)
    emails = emails or int(n * 0.8)
    out = []
    for i in range(n):
        age = int(min(95, max(14, rng.gauss(rng.choice([24, 40, 60]), 5))))
        d = {
            "cookie": f"c{i}",
            "email": f"user{rng.randrange(emails)}@example.com",
            "created_at": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2025 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            "location": {"country": weighted(rng, COUNTRIES), "state": f"S{rng.randrange(30)}", "city": f"City{rng.randrange(80)}"},
            "demographics": {
                "age": age if rng.random() > 0.05 else None,
                "gender": rng.choice(["Male", "Female", "Female", "Male", "Non-binary"]),
                "income": rng.choice([str(rng.randint(15, 200) * 1000), "High", "Low"]),
                "education": rng.choice(["Bachelor's", "Master's", "PhD", "High School"]),
            },
            "interests": rng.sample(INTERESTS, rng.randint(0, 4)),
        }
        out.append({"data": d})
    return out
