"""How far each loss rose above its lowest earlier epoch, over every training checkpoint under some folders.

The evidence for ``kdlib.train.check_blowup``'s threshold: a rule that stops a run when an epoch's mean loss exceeds
1,000 times its lowest earlier epoch mean (floor 1) must leave every healthy run alone. This prints, per loss name,
the largest such ratio seen and where; a healthy run's ratios should sit far below 1,000.

    python bench/loss_rises.py runs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kdlib.store import load_checkpoint


def rises(folders: list[Path]) -> tuple[int, dict[str, tuple[float, str]]]:
    """(histories read, {loss name: (largest ratio to its lowest earlier epoch mean, floor 1; where)})."""
    largest: dict[str, tuple[float, str]] = {}
    count = 0
    for path in sorted(p for folder in folders for p in folder.rglob("*.pt")):
        state = load_checkpoint(path)
        epochs = state.get("history", {}).get("epochs", []) if isinstance(state, dict) else []
        count += bool(epochs)
        for name in dict.fromkeys(n for means in epochs for n in means):
            sizes = [abs(means[name]) for means in epochs if name in means]
            for index in range(1, len(sizes)):
                ratio = sizes[index] / max(min(sizes[:index]), 1.0)
                if ratio > largest.get(name, (0.0, ""))[0]:
                    largest[name] = (ratio, f"{path}, epoch {index}: {sizes[index]:.3g} after {min(sizes[:index]):.3g}")
    return count, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="folders searched for checkpoints (*.pt)")
    count, largest = rises(parser.parse_args().folders)
    print(f"{count} training histories")
    for name, (ratio, where) in sorted(largest.items(), key=lambda item: -item[1][0]):
        print(f"{ratio:12.3g}  {name:16s} {where}")


if __name__ == "__main__":
    main()
