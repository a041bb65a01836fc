"""Data shipped with xrayfeat: a small patient-disjoint sample of real chest X-rays.

The sample holds 150 images of the Kermany et al. paediatric pneumonia data set
(100 train / 50 test, NORMAL and PNEUMONIA with both bacterial and viral cases),
resized to 224 px and stored as grey JPEG, in the Kaggle layout
``sample/{train,test}/{NORMAL,PNEUMONIA}``. It exists so that the examples, the
tests and ``python -m experiments.run`` work on a fresh machine with no download.
It is far too small to judge accuracy.

Licence: CC BY 4.0. Cite Kermany, Zhang, Goldbaum, "Labeled Optical Coherence
Tomography (OCT) and Chest X-Ray Images for Classification", Mendeley Data v2,
doi:10.17632/rscbjbr9sj.2, and Kermany et al., Cell 172(5):1122-1131 (2018).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["sample_path", "load_sample", "SAMPLE_CITATION"]

SAMPLE_CITATION = (
    "Kermany D, Zhang K, Goldbaum M. Labeled Optical Coherence Tomography (OCT) and Chest "
    "X-Ray Images for Classification. Mendeley Data, v2, 2018. doi:10.17632/rscbjbr9sj.2 "
    "(CC BY 4.0). Kermany DS et al. Identifying Medical Diagnoses and Treatable Diseases by "
    "Image-Based Deep Learning. Cell 172(5):1122-1131, 2018."
)


def sample_path() -> Path:
    """Folder of the embedded sample, in the Kaggle ``train/test`` layout.

    Returns
    -------
    pathlib.Path
        Pass it to :func:`xrayfeat.load_dataset` or ``xrayfeat.fit``.
    """
    return Path(str(resources.files(__name__) / "sample"))


def load_sample(split: str | None = None, labels: str = "binary"):
    """Load the embedded sample as a :class:`xrayfeat.Dataset`.

    Parameters
    ----------
    split : {"train", "test"} or None, default=None
        Keep one split, or both.
    labels : {"binary", "3class"}, default="binary"
        As in :func:`xrayfeat.load_dataset`.

    Returns
    -------
    Dataset
    """
    from ..dataset import load_dataset

    return load_dataset(sample_path(), split=split, labels=labels)
