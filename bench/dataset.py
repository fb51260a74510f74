"""The generated people every benchmark uses: n records with distinct cookies (c0, c1, ...) and
emails, so n records are n unique profiles. Deterministic for a seed."""

import random

COUNTRIES = [("USA", 40), ("India", 22), ("Canada", 10), ("UK", 9), ("Germany", 8), ("Brazil", 6), ("Japan", 5),
             ("France", 4), ("Australia", 3), ("Mexico", 3)]
INTERESTS = ["Tech", "Gaming", "AI", "Finance", "Cricket", "Movies", "Sports", "Crypto", "Travel", "Music",
             "Football", "Drama", "Stock Market", "Cooking", "Yoga", "Fashion", "Hollywood", "Banking"]

def generate(n, seed=42):
    """n records with distinct cookies and emails, so n records are n unique profiles."""
    rng = random.Random(seed)
    country_names = [c for c, _ in COUNTRIES]
    country_weights = [w for _, w in COUNTRIES]
    countries = rng.choices(country_names, country_weights, k=n)
    out = []
    for i in range(n):
        age = int(min(95, max(14, rng.gauss(rng.choice((24, 40, 60)), 5))))
        out.append({"data": {
            "cookie": f"c{i}",
            "email": f"user{i}@example.com",
            "created_at": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2025 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            "location": {"country": countries[i], "state": f"S{rng.randrange(50)}", "city": f"City{rng.randrange(300)}"},
            "demographics": {
                "age": age if rng.random() > 0.05 else None,
                "gender": rng.choice(("Male", "Female", "Female", "Male", "Non-binary")),
                "income": str(rng.randint(15, 200) * 1000),
                "education": rng.choice(("Bachelor's", "Master's", "PhD", "High School")),
            },
            "interests": rng.sample(INTERESTS, rng.randint(0, 4)),
        }})
    return out
