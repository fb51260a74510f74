"""The original analytics notebook, redrawn from the Audience server's results.

    python examples/notebook.py --socket ./audience.sock --out charts/ [--country USA ...]

Every figure comes from one Analyze request (computed by the server over the unique profiles);
the charts use the notebook's seaborn calls, titles and labels, and are written as PNG files.
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from audience_client import Client  # noqa: E402


def save(out, name):
    path = os.path.join(out, name)
    plt.tight_layout()
    plt.savefig(path, dpi=100)
    plt.close()
    print(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", default=os.environ.get("AUDIENCE_SOCKET", "./audience.sock"))
    ap.add_argument("--out", default="charts")
    ap.add_argument("--country")
    ap.add_argument("--gender")
    ap.add_argument("--age-min", type=int)
    ap.add_argument("--age-max", type=int)
    ap.add_argument("--interests")
    args = ap.parse_args()
    filters = {k: v for k, v in {"country": args.country, "gender": args.gender, "age_min": args.age_min,
                                  "age_max": args.age_max, "interests": args.interests}.items() if v is not None}
    os.makedirs(args.out, exist_ok=True)
    with Client(args.socket) as c:
        r = c.analyze(**filters)
    print(f"{r['total']} users")

    # User Distribution by Country
    location_counts = pd.Series(r["countries"])
    plt.figure(figsize=(12, 6))
    sns.barplot(x=location_counts.index, y=location_counts.values, hue=location_counts.index, palette="viridis", legend=False)
    plt.xticks(rotation=45)
    plt.title("User Distribution by Country")
    plt.xlabel("Country")
    plt.ylabel("User Count")
    save(args.out, "countries.png")

    # Age Distribution of Users (the server's bins are numpy's; draw them as histplot would)
    bins = r["age_histogram"]
    plt.figure(figsize=(10, 6))
    plt.bar([b["from"] for b in bins], [b["count"] for b in bins], width=[b["to"] - b["from"] for b in bins],
            align="edge", color=sns.color_palette()[0], alpha=0.75, edgecolor="white")
    plt.title("Age Distribution of Users")
    plt.xlabel("Age")
    plt.ylabel("Count")
    save(args.out, "ages.png")

    # User Distribution by Gender
    genders = pd.Series(r["genders"])
    plt.figure(figsize=(8, 4))
    sns.barplot(y=genders.index, x=genders.values, hue=genders.index, palette="coolwarm", legend=False)
    plt.title("User Distribution by Gender")
    plt.xlabel("count")
    save(args.out, "genders.png")

    # Top User Interests
    interest_df = pd.DataFrame(r["interests"].items(), columns=["Interest", "Count"]).sort_values(by="Count", ascending=False)
    plt.figure(figsize=(12, 6))
    sns.barplot(x="Count", y="Interest", data=interest_df, hue="Interest", palette="magma", legend=False)
    plt.title("Top User Interests")
    plt.xlabel("User Count")
    plt.ylabel("Interests")
    save(args.out, "interests.png")

    # User Clusters Based on Age
    km = r["kmeans"]
    if km and km["age_clusters"]:
        pts = pd.DataFrame(km["age_clusters"])
        plt.figure(figsize=(10, 6))
        sns.scatterplot(x=pts["age"], y=pts["cluster"], hue=pts["cluster"], size=pts["count"], palette="Set2")
        plt.title("User Clusters Based on Age")
        plt.xlabel("Age")
        plt.ylabel("Cluster")
        plt.xlim(0, 100)
        save(args.out, "clusters.png")

    # User Cohort Distribution by Interests
    cohort_counts = pd.Series(r["categories"]).sort_values(ascending=False)
    plt.figure(figsize=(8, 5))
    sns.barplot(y=cohort_counts.index, x=cohort_counts.values, hue=cohort_counts.index, palette="viridis", legend=False)
    plt.xlabel("User Count")
    plt.ylabel("Cohort")
    plt.title("User Cohort Distribution by Interests")
    save(args.out, "categories.png")


if __name__ == "__main__":
    main()
