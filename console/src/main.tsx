import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import { renewAccessToken, restoreSession } from "./auth/actions";
import { session } from "./auth/session";
import "./styles.css";

// The session the refresh cookie keeps comes back on load (see auth/session.ts).
session.renewWith(renewAccessToken);
void restoreSession().finally(() => {
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
});
