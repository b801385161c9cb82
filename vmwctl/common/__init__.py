"""Small helpers every layer may use: choosing among values, redacting secrets, stopping
between steps on a signal, streaming with read-ahead."""
