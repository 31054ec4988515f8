"""ecomrel: a large language model as the relevance engine of an e-commerce search."""

from ecomrel.grades import DEFAULT_SCALE, LREF_SCALE, GradeScale

__version__ = "0.1.0"
__all__ = ["DEFAULT_SCALE", "LREF_SCALE", "GradeScale", "__version__"]
