"""rfm: customer-value analytics — RFM scores, segments and actions from order history."""

from rfm.config import Config, load_config
from rfm.customers import CustomerScores, Orders, Scoring, score, score_customers
from rfm.errors import ConfigError, InputError, ModelError, RfmError, RfmWarning
from rfm.leads import calibrate, contacts, lead_history, score_leads

__all__ = [
    "Config",
    "ConfigError",
    "CustomerScores",
    "InputError",
    "ModelError",
    "Orders",
    "RfmError",
    "RfmWarning",
    "Scoring",
    "calibrate",
    "contacts",
    "lead_history",
    "load_config",
    "score",
    "score_customers",
    "score_leads",
]
__version__ = "0.1.0"
