"""Reading expression matrices and sample sheets into an :class:`~srna_nb.atlas.Atlas`.

What people actually have: a count (or RPM) matrix as CSV/TSV, optionally gzipped, in either
orientation, plus a sample sheet keyed by sample id; or an AnnData ``.h5ad`` file. Every problem
is reported as one line naming the file and what is wrong (:class:`~srna_nb.errors.SrnaInputError`).
Input files are only ever read.

Layout: :mod:`~srna_nb.io.tables` (CSV/TSV matrices and sample sheets, their checks),
:mod:`~srna_nb.io.loading` (:func:`load_atlas`: matrix, sheet and names joined into one atlas) and
:mod:`~srna_nb.io.h5ad` (AnnData files in and out) and :mod:`~srna_nb.io.catalogue` (public atlases
described as data, ``srna_nb/data/atlases.yaml``, read by one loader).
"""

from srna_nb.io.catalogue import catalogue, load_atlases, load_catalogue_atlas, read_catalogue
from srna_nb.io.h5ad import read_h5ad, write_h5ad
from srna_nb.io.loading import load_atlas, name_mapping
from srna_nb.io.tables import Orientation, looks_like_srna_name, read_matrix, read_sample_sheet

__all__ = ["Orientation", "catalogue", "load_atlas", "load_atlases", "load_catalogue_atlas", "read_catalogue", "looks_like_srna_name", "name_mapping", "read_h5ad", "read_matrix",
           "read_sample_sheet", "write_h5ad"]
