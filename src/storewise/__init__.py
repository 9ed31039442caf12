"""storewise: a self-hostable customer-personalization engine for digital retail."""

__version__ = "0.1.0"
