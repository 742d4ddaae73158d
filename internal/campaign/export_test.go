package campaign

import "context"

// ResolveDoubt settles batch d as recoverDoubts would (tests call it on a
// batch settled between recoverDoubts' list and its look at the flights).
func (s *Service) ResolveDoubt(ctx context.Context, d Doubt) error { return s.resolveDoubt(ctx, d) }
