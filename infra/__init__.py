"""Switchboard infrastructure: Terraform for the cloud, and infra/local for the one-machine stack."""
