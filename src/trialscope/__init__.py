"""trialscope: a clinical-trials registry explorer."""

__version__ = "0.1.0"
