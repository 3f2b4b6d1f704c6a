"""Known small-RNA biology the simulator plants into its atlas.

Everything here is a literature fact or a naming convention, never measured expression values.
Marker lists follow well-replicated tissue-enriched miRNAs (Lagos-Quintana 2002; Landgraf 2007;
Ludwig 2016 "Distribution of miRNA expression across human tissues"; Isakova 2020); sex effects
follow X-linked miRNAs (Guo 2017; Sharma & Eghbali 2014); age effects follow circulating-miRNA
ageing studies (Noren Hooten 2010, 2013; Huan 2018) and the fetal 14q32 (DLK1-DIO3) cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Tissue:
    """A tissue of the simulated atlas."""

    name: str
    group: str
    prevalence: float  # relative share of samples, shaped like SEA (biofluids and brain common)
    markers: tuple[str, ...] = ()  # literature tissue-enriched sRNAs (over the group's markers)
    sex: str | None = None  # "male"/"female" when only one sex provides this tissue


#: Markers shared by every tissue of a group.
GROUP_MARKERS: dict[str, tuple[str, ...]] = {
    "brain": ("hsa-miR-124-3p", "hsa-miR-9-5p", "hsa-miR-9-3p", "hsa-miR-128-3p", "hsa-miR-137"),
    "blood": ("hsa-miR-451a", "hsa-miR-144-3p", "hsa-miR-486-5p", "hsa-miR-142-3p", "hsa-miR-223-3p"),
    "digestive": ("hsa-miR-192-5p", "hsa-miR-194-5p", "hsa-miR-215-5p"),
    "muscle": ("hsa-miR-1-3p", "hsa-miR-133a-3p", "hsa-miR-133b"),
    "respiratory": ("hsa-miR-126-3p", "hsa-miR-30a-5p", "hsa-miR-34b-3p"),
    "urinary": ("hsa-miR-10a-5p", "hsa-miR-10b-5p", "hsa-miR-196b-5p"),
    "reproductive": ("hsa-miR-202-5p", "hsa-miR-449a"),
    "skin": ("hsa-miR-205-5p", "hsa-miR-203a-3p", "hsa-miR-200a-3p"),
    "endocrine": ("hsa-miR-7-5p", "hsa-miR-375"),
    "immune": ("hsa-miR-142-5p", "hsa-miR-150-5p", "hsa-miR-155-5p"),
    "adipose": ("hsa-miR-378a-3p", "hsa-miR-143-3p", "hsa-miR-145-5p"),
}

TISSUES: tuple[Tissue, ...] = (
    Tissue("cerebral cortex", "brain", 6.0, ("hsa-miR-129-5p",)),
    Tissue("cerebellum", "brain", 2.5),
    Tissue("hippocampus", "brain", 2.0, ("hsa-miR-138-5p",)),
    Tissue("spinal cord", "brain", 1.0, ("hsa-miR-219a-5p", "hsa-miR-338-3p")),
    Tissue("whole blood", "blood", 6.0, ("hsa-miR-16-5p",)),
    Tissue("plasma", "blood", 8.0, ("hsa-miR-122-5p",)),
    Tissue("serum", "blood", 8.0, ("hsa-miR-1246",)),
    Tissue("PBMC", "blood", 4.0, ("hsa-miR-150-5p", "hsa-miR-155-5p")),
    Tissue("colon", "digestive", 4.0, ("hsa-miR-196b-5p",)),
    Tissue("stomach", "digestive", 1.5, ("hsa-miR-148a-3p",)),
    Tissue("small intestine", "digestive", 1.0, ("hsa-miR-31-5p",)),
    Tissue("liver", "digestive", 4.0, ("hsa-miR-122-5p", "hsa-miR-885-5p")),
    Tissue("pancreas", "digestive", 2.0, ("hsa-miR-216a-5p", "hsa-miR-217", "hsa-miR-375")),
    Tissue("skeletal muscle", "muscle", 2.5, ("hsa-miR-206",)),
    Tissue("heart", "muscle", 2.5, ("hsa-miR-208a-3p", "hsa-miR-208b-3p", "hsa-miR-499a-5p")),
    Tissue("lung", "respiratory", 3.5, ("hsa-miR-34c-5p",)),
    Tissue("bronchial epithelium", "respiratory", 1.0, ("hsa-miR-449a", "hsa-miR-200b-3p")),
    Tissue("kidney", "urinary", 3.0, ("hsa-miR-192-5p", "hsa-miR-204-5p")),
    Tissue("bladder", "urinary", 1.5, ("hsa-miR-143-3p",)),
    Tissue("testis", "reproductive", 2.0, ("hsa-miR-34c-5p",), sex="male"),
    Tissue("prostate", "reproductive", 2.0, ("hsa-miR-141-3p",), sex="male"),
    Tissue("ovary", "reproductive", 1.0, ("hsa-miR-202-3p",), sex="female"),
    Tissue("placenta", "reproductive", 2.0, ("hsa-miR-517a-3p", "hsa-miR-498", "hsa-miR-520a-3p"), sex="female"),
    Tissue("uterus", "reproductive", 1.0, ("hsa-miR-196a-5p",), sex="female"),
    Tissue("skin", "skin", 2.0, ("hsa-miR-203b-5p",)),
    Tissue("keratinocyte", "skin", 1.0, ("hsa-miR-200c-3p",)),
    Tissue("thyroid", "endocrine", 2.0, ("hsa-miR-138-1-3p",)),
    Tissue("adrenal gland", "endocrine", 1.0, ("hsa-miR-202-5p",)),
    Tissue("spleen", "immune", 1.5, ("hsa-miR-451a",)),
    Tissue("lymph node", "immune", 1.0, ("hsa-miR-146a-5p",)),
    Tissue("thymus", "immune", 0.7, ("hsa-miR-181a-5p",)),
    Tissue("adipose tissue", "adipose", 2.0, ("hsa-miR-103a-3p",)),
    Tissue("breast", "adipose", 2.5, ("hsa-miR-205-5p",)),
)

#: The most abundant miRNAs of real atlases, most abundant first (they get the top ranks).
DOMINANT_MIRNAS: tuple[str, ...] = (
    "hsa-miR-21-5p", "hsa-miR-486-5p", "hsa-let-7a-5p", "hsa-miR-143-3p", "hsa-let-7c-5p",
    "hsa-let-7f-5p", "hsa-miR-92a-3p", "hsa-miR-22-3p", "hsa-miR-181a-5p", "hsa-miR-26a-5p",
    "hsa-let-7b-5p", "hsa-miR-10a-5p", "hsa-miR-27a-3p", "hsa-miR-27b-3p", "hsa-miR-191-5p",
    "hsa-miR-451a", "hsa-miR-192-5p", "hsa-miR-215-5p", "hsa-miR-16-5p", "hsa-let-7g-5p",
    "hsa-miR-148a-3p", "hsa-miR-30d-5p", "hsa-miR-125b-5p", "hsa-miR-99b-5p", "hsa-miR-100-5p",
)

#: X-linked miRNAs that escape inactivation in part: slightly higher in females.
X_LINKED_MIRNAS: tuple[str, ...] = (
    "hsa-miR-221-3p", "hsa-miR-222-3p", "hsa-miR-223-3p", "hsa-miR-424-5p", "hsa-miR-503-5p",
    "hsa-miR-542-3p", "hsa-miR-450a-5p", "hsa-miR-106a-5p", "hsa-miR-363-3p", "hsa-miR-98-5p",
    "hsa-miR-188-5p", "hsa-miR-18b-5p", "hsa-miR-20b-5p", "hsa-miR-652-3p", "hsa-miR-660-5p",
    "hsa-miR-500a-3p", "hsa-miR-501-3p", "hsa-miR-502-3p", "hsa-miR-532-5p", "hsa-miR-362-5p",
)

#: Circulating miRNAs reported to change steadily with age (sign: +1 up with age, -1 down).
AGE_TREND_MIRNAS: dict[str, int] = {
    "hsa-miR-34a-5p": +1, "hsa-miR-146a-5p": +1, "hsa-miR-21-3p": +1, "hsa-miR-126-5p": +1,
    "hsa-miR-184": +1, "hsa-miR-1284": +1,
    "hsa-miR-151a-5p": -1, "hsa-miR-181a-3p": -1, "hsa-miR-1248": -1, "hsa-miR-103a-3p": -1,
    "hsa-miR-107": -1, "hsa-miR-128-3p": -1, "hsa-miR-130a-3p": -1, "hsa-miR-24-3p": -1,
    "hsa-miR-19b-3p": -1, "hsa-miR-211-5p": -1,
}

#: The 14q32 (DLK1-DIO3) cluster: high in fetal and child tissues, fading in adults.
DEVELOPMENTAL_MIRNAS: tuple[str, ...] = (
    "hsa-miR-127-3p", "hsa-miR-134-5p", "hsa-miR-370-3p", "hsa-miR-409-3p", "hsa-miR-410-3p",
    "hsa-miR-431-5p", "hsa-miR-432-5p", "hsa-miR-379-5p", "hsa-miR-381-3p", "hsa-miR-382-5p",
    "hsa-miR-487b-3p", "hsa-miR-493-3p", "hsa-miR-495-3p", "hsa-miR-654-3p",
)

#: Red-cell miRNAs released by hemolysis into plasma and serum.
HEMOLYSIS_MIRNAS: tuple[str, ...] = ("hsa-miR-451a", "hsa-miR-144-3p", "hsa-miR-486-5p", "hsa-miR-16-5p", "hsa-miR-92a-3p")

#: Library preparation kits: each carries its own sequence-dependent ligation bias.
LIBRARY_PREPS: tuple[str, ...] = (
    "Illumina TruSeq Small RNA", "NEBNext Small RNA", "QIAseq miRNA", "TailorMix / 4N adapters",
)

#: Amino acids and anticodons for tRNA-derived fragment names (GtRNAdb style).
TRNA_ANTICODONS: tuple[str, ...] = (
    "Gly-GCC", "Gly-CCC", "Glu-CTC", "Glu-TTC", "Val-CAC", "Val-AAC", "Lys-CTT", "Lys-TTT",
    "Asp-GTC", "His-GTG", "Leu-CAG", "Leu-AAG", "Pro-AGG", "Ala-AGC", "Cys-GCA", "Arg-TCT",
    "SeC-TCA", "iMet-CAT", "Asn-GTT", "Gln-CTG", "Ser-GCT", "Thr-AGT", "Tyr-GTA", "Trp-CCA", "Phe-GAA",
)

#: snoRNA gene symbols (HGNC): C/D box (SNORD), H/ACA box (SNORA) and scaRNAs.
SNORNA_FAMILIES: tuple[tuple[str, int], ...] = (("SNORD", 120), ("SNORA", 81), ("SCARNA", 27))


@lru_cache(maxsize=1)
def mirbase_mature_names() -> tuple[str, ...]:
    """Human mature miRNA names shipped with the package (miRBase naming)."""
    text = resources.files("srna_nb").joinpath("data/mirbase_mature_names.txt").read_text()
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def known_mirna_names() -> frozenset[str]:
    """The shipped miRNA names as a set, for fast membership tests."""
    return frozenset(mirbase_mature_names())
