"""tfgen: image generators and reconstruction models for Keras 3, with accelerated optimizers."""

__version__ = "0.1.0"
