//! Renders the Ansible project from a validated model.
