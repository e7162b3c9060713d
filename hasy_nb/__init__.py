"""hasy_nb: which CNN works best on HASYv2? A notebook-first course, lab and library."""
__version__ = "0.1.0"


def load_pretrained(*args, **kwargs):
    "The pretrained model shipped with the package, ready to use (see `hasy_nb.infer.load_pretrained`)."
    from .infer import load_pretrained as _load_pretrained  # imported on use: `import hasy_nb` stays light
    return _load_pretrained(*args, **kwargs)


def load_model(ref="pretrained"):
    "A model with its classes from any reference: 'pretrained', a zoo name with weights, a run folder, a .pt file, a module."
    from .infer import load_model as _load_model     # imported on use: `import hasy_nb` stays light
    return _load_model(ref)


def predict(image, k: int = 5, **kwargs):
    "Top-`k` `[(latex, probability), ...]` for a drawing (see `hasy_nb.infer.predict`)."
    from .infer import predict as _predict
    return _predict(image, k=k, **kwargs)


def read_formula(image_or_strokes, model=None, **kwargs):
    "A handwritten formula (the pad's strokes, or an image) -> `Formula` with `.latex` and `.symbols` (see `hasy_nb.formula`)."
    from .formula import read_formula as _read_formula   # imported on use: `import hasy_nb` stays light
    return _read_formula(image_or_strokes, model=model, **kwargs)
