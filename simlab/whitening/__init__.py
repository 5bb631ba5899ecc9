"""BERT-whitening (kexue.fm/archives/8069, arXiv 2103.15316)."""

from simlab.whitening.kernel import WhiteningWarning, compute_kernel_bias, kernel_from_covariance, whiten
from simlab.whitening.model import Whitening, check_k
from simlab.whitening.stats import MomentStats

__all__ = ["Whitening", "check_k", "WhiteningWarning", "MomentStats", "compute_kernel_bias", "kernel_from_covariance", "whiten"]
