import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import { session } from "./auth/session";
import "./styles.css";

// A session comes back on load only once refresh sessions exist (see auth/session.ts).
void session.restore().finally(() => {
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
});
