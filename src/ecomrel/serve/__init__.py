"""The relevance service: FastAPI app over pluggable backends (ONNX int8 student by default).

Python API: ``create_app(settings)``, ``run_server(settings)``, ``serve_check(model_dir)``;
``available_backends()`` lists what this installation can serve.
"""

from ecomrel.serve.settings import ServeSettings

__all__ = ["ServeSettings", "available_backends", "create_app", "run_server", "serve_check"]


def __getattr__(name: str):  # lazy: importing the package must not pull in FastAPI
    if name in ("create_app", "run_server", "serve_check"):
        from ecomrel.serve import app

        return getattr(app, name)
    if name == "available_backends":
        from ecomrel.serve.backends import available_backends

        return available_backends
    raise AttributeError(name)
