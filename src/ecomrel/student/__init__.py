"""The cross-encoder student: its text recipe, model loading and prediction.

Used by training (``ecomrel.train.distill_trainer``), export (``ecomrel.export``) and serving
(``ecomrel.serve``), so that serving never imports training code:

- :mod:`ecomrel.student.recipe` — :class:`StudentRecipe`, how a (query, product) pair becomes the
  student's two texts; saved beside every model as ``student.json``.
- :mod:`ecomrel.student.model` — :func:`make_student` (a fresh student on a body),
  :func:`load_student` (a trained one), :func:`default_student_base` (the packaged MiniLM-L6).
- :mod:`ecomrel.student.predict` — :func:`predict_proba`, :func:`prediction_frame`.
"""

from ecomrel.student.recipe import STUDENT_META, StudentRecipe

__all__ = ["STUDENT_META", "StudentRecipe"]
