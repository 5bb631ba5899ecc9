"""Linear models and the dimension formula from Su Jianlin's posts.

- :class:`AnalyticLogisticRegression` — closed-form logistic/softmax regression (kexue.fm 8578).
- :mod:`simlab.linear.dims` — n > 8.33 ln N and the h_n integral (kexue.fm 7695/8711).
"""

from __future__ import annotations

from simlab.linear.analytic_logreg import AnalyticLogisticRegression

__all__ = ["AnalyticLogisticRegression"]
