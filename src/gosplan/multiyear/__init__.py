"""Multi-year ("five-year") plans: capital stocks, investment, depreciation and a labour-supply path.

* :mod:`gosplan.multiyear.formulate`: Cockshott's N-year model as one sparse program;
* :func:`plan_years`: solve it and check the answer;
* :class:`MultiYearPlanResult`: the plan by year, product, activity and stock, its prices,
  its tables and HTML report.
"""

from gosplan.multiyear.result import MultiYearPlanResult
from gosplan.multiyear.solve import METHODS, plan_years

__all__ = ["plan_years", "MultiYearPlanResult", "METHODS"]
