"""ehcp-tracker: EHC needs assessments and EHC plan reviews against the statutory clocks."""

__version__ = "0.1.0"
