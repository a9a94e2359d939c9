"""lm-evaluation-harness task definitions: CatQA, the other safety sets, over-refusal, utility groups."""
