"""Payment terms templates: net days, early-payment discount, deposit."""
