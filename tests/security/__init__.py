"""Security properties of the webhook path: mandatory signatures compared in constant time, the body
size limit enforced before parsing, and no personal data in logs."""
