"""The local stack: emulators and the provider sandbox that stand in for Google Cloud and the providers."""
