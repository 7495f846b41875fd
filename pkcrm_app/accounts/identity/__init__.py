"""Who someone is: users, passwords, sessions and devices, MFA, SSO, sign-in limits."""
