"""The service account: the guide's privileges, what an account or role holds, the role."""
