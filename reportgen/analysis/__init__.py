"""Analysis stages: trace → costs → roofline → measure → scaling → findings → hypotheses → tradeoffs."""
