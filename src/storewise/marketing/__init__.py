"""Marketing analyses over purchase transactions: RFM segments, CLV, uplift and next-best offer.

Modules: :mod:`~storewise.marketing.transactions` (input frame), :mod:`~storewise.marketing.rfm`,
:mod:`~storewise.marketing.summary` and :mod:`~storewise.marketing.clv` (BG/NBD, Gamma-Gamma),
:mod:`~storewise.marketing.uplift`, :mod:`~storewise.marketing.bandit`,
:mod:`~storewise.marketing.offers` and :mod:`~storewise.marketing.plots`. Import from the module
you need; this package imports nothing heavy on its own.
"""
