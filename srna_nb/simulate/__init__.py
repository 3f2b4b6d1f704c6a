"""A deterministic simulator of SEA-like small-RNA atlases (simulated data, not real samples).

The small RNA Expression Atlas (SEA) used by Fiosina et al. (2020) cannot be downloaded here, so
the package ships this simulator. It builds, for a seed, an atlas with SEA's structure and
difficulty and returns, separately, the ground truth it planted.

Generative model (log2 scale, per sample ``i`` of study ``s``, tissue ``t`` in group ``g``, feature ``f``)::

    log2 mu[i, f] = base[f]                       heavy-tailed abundance (miR-21, let-7, miR-143 on top)
                  + group[g, f] + tissue[t, f]    planted markers plus diffuse tissue programmes
                  + study[s, f] + kit[k(s), f]    batch: study effect and library-prep ligation bias
                  + class_capture[s, class(f)]    how much piRNA/snoRNA/tRF a protocol captures
                  + sex, age, hemolysis terms     weak X-linked, ageing and red-cell effects
                  + bio[i, f]                     sample-to-sample biological variation
    p[i, :]   = normalised 2 ** log2 mu[i, :]
    count[i, f] ~ NegativeBinomial(mean = library_size[i] * p[i, f], dispersion = 1 / nb_shape)

Calibration (see ``benchmarks/simulator_calibration.py``): with the defaults, library sizes span
about 0.3 to 40 million reads (10th/50th/90th percentiles near 2, 6.5 and 19 million), about two
thirds of all entries are zero, and a regularized logistic regression on log2(RPM + 1) reaches
roughly the study's figures: tissue near 0.95 in stratified cross-validation but clearly lower when
whole studies are held out, tissue group higher, sex and age group in the 0.7-0.8 range.

Layout: :mod:`~srna_nb.simulate.simulator` (the entry point and its checks, the planted truth),
:mod:`~srna_nb.simulate.design` (features, base abundance, studies and samples),
:mod:`~srna_nb.simulate.effects` (tissue, batch, sex, age and hemolysis terms; the counts) and
:mod:`~srna_nb.simulate.metadata` (the sample sheet as public metadata comes: missing and wrong labels).
"""

from srna_nb.simulate.simulator import SIMULATED_NOTE, SimulationTruth, simulate_atlas

__all__ = ["SIMULATED_NOTE", "SimulationTruth", "simulate_atlas"]
