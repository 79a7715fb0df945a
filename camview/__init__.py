"""camview: live class activation maps of ImageNet CNNs over a camera, video or image feed."""

__version__ = "0.1.0"
