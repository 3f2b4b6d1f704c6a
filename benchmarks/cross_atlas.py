"""Cross-atlas organ annotation: train on one real atlas, annotate the other (another pipeline).

The two cross-atlas rows of ``benchmarks/real_data.py``, same code and same table: srna_nb's
models as calibrated bundles (accuracy, balanced accuracy, macro-F1, the share of confident calls
and their accuracy) beside plain scikit-learn on log2(RPM + 1) computed in the same run, for
microRNA atlas -> miRNA Tissue Atlas 2 and the reverse, on the organs both atlases hold.

Usage: ``python benchmarks/cross_atlas.py [n_seeds]`` (default 3).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_data import main  # noqa: E402

if __name__ == "__main__":
    seeds = sys.argv[1:2] or ["3"]
    sys.exit(main([sys.argv[0], *seeds, "--rows", "microRNA atlas -> TA2,TA2 -> microRNA atlas"]))
